//! CloudWatch alarms and the stack dashboard. (Being built.)
