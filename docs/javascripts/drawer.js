// The phone's navigation drawer opens at the top of the navigation, with every section in view,
// not inside the section of the page being read: Material marks the current section's toggle
// checked, which on a narrow screen slides the drawer into that section (Material has no setting
// for it). On a wide screen navigation.sections shows every section open whatever its toggle.
document$.subscribe(function () {
  document.querySelectorAll(".md-nav--primary .md-nav__toggle:checked").forEach(function (toggle) {
    toggle.checked = false;
  });
});
