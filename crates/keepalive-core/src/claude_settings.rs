//! Merging our commands into Claude Code's settings.json (being written).
