"""Text analysers (Azure AI Language, a local offline one) behind the TextAnalyzer port."""
