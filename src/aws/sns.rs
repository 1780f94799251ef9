//! SNS topic of alarm notifications. (Being built.)
