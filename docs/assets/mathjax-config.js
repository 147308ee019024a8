// MathJax 3 settings for pymdownx.arithmatex (generic mode); the bundle is copied from the
// django-static-mathjax package at build time, so pages render maths without any network access.
window.MathJax = {
  tex: {inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true, processEnvironments: true},
  options: {ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex", enableMenu: false},
  svg: {fontCache: "global"}
};
