"""Training the offline starter models on SceneBench's train split."""
