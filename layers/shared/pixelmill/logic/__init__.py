"""Task lifecycle and image handling: no events, no HTTP, no boto3."""
