"""Background tasks: subagents and workflow runs that agents start, keep working beside, and collect later."""
