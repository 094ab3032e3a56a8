"""The ``inline_markdown`` filter: knowledge-check text (prompts, choices, explanations) as
inline Markdown, rendered and sanitised by ``rendering.render_inline``."""

from django import template
from django.utils.safestring import mark_safe

from academy.courses.rendering import render_inline

register = template.Library()


@register.filter
def inline_markdown(source) -> str:
    return mark_safe(render_inline(str(source or "")))  # cleaned by nh3 in render_inline
