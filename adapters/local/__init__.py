"""Local adapters: files on local disk (the embedded default BlobStore) and content sniffing."""
