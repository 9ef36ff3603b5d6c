"""Test helpers shipped with boocode.

`boocode.testing.fake_llm` holds `FakeLLMServer`, a fake LLM server speaking the OpenAI and Anthropic wire
formats; `boocode.testing.cli` runs the `boocode` command line as a subprocess. Nothing is imported here, so
`python -m boocode.testing.fake_llm` runs the module only once.
"""
