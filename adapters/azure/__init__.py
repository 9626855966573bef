"""Azure adapters: Blob Storage (``azure-storage-blob[aio]``)."""
