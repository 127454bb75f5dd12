"""Running and provisioning pixelmill outside Lambda: template parsing, local resources."""
