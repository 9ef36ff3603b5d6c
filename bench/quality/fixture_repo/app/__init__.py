"""A small inventory service used to measure boocode's review workflows."""
