//! S3 buckets of the stack. (Being built.)
