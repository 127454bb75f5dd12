"""pixelmill: a serverless image-processing service (shared package of the Lambda layer)."""
