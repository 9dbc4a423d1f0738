"""The HTTP interface of imgsearch (FastAPI)."""
