//! CloudFront: origin access control and distribution. (Being built.)
