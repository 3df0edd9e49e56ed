"""The finance team's dashboard: the pages by screen, their URLs and the SVG charts."""
