"""All user-facing Vietnamese text, one module per feature, so another language can follow.

Handlers never write user-facing sentences inline; they take them from here.
"""
