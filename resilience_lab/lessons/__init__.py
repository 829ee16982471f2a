"""The worlds, panels and measurements each lesson builds on, one module per lesson."""
