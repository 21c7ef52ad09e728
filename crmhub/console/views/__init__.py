"""The console's pages: thin views that parse input, call one service or selector, render."""
