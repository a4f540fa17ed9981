"""stratforge dashboard component."""
