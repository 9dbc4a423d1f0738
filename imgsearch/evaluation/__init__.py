"""`imgsearch eval`: search quality and latency on a labelled set, object-level against whole-image search."""
