"""The KK domain core shared by the counter and the server: pure Python, no I/O."""
