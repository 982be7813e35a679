"""OpenAI-compatible audio routes: OpenAI's request and response shapes over our task services."""
