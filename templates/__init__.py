"""Jinja2 code templates (package data): cpp/, python/, tests/, pr/, k8s/."""
