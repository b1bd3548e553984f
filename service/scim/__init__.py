"""SCIM 2.0 (RFC 7643/7644) for HR systems and identity providers: Users at /scim/v2."""
