"""Bytes in, records out: decode → detect → crop → embed."""
