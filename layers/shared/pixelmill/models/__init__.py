"""Models of the API and of the task record."""
