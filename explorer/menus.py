"""The menu bar and its shortcuts, the View → Language switch and retranslating the window live."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QMenu,
    QToolButton,
)

from explorer import i18n


class Menus:
    """Part of :class:`explorer.window.MainWindow` (a mixin: it reads and sets the window's own
    attributes). The menu bar and its shortcuts, the View → Language switch and retranslating the window live."""

    # ------------------------------------------------------------------ menus, look
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu(QCoreApplication.translate("MainWindow", "&File"))
        self._action(file_menu, QCoreApplication.translate("MainWindow", "Open model folder…"), "Ctrl+O", self._on_open_folder)
        self._action(file_menu, QCoreApplication.translate("MainWindow", "Open GGUF file…"), "Ctrl+Shift+O", self._on_open_gguf)
        self._action(file_menu, QCoreApplication.translate("MainWindow", "Export…"), "Ctrl+E", self._on_export)
        file_menu.addSeparator()
        self._action(file_menu, QCoreApplication.translate("MainWindow", "Quit"), QKeySequence.Quit, self.close)
        self.model_menu = self.menuBar().addMenu(QCoreApplication.translate("MainWindow", "&Model"))
        self.model_menu.aboutToShow.connect(self._on_model_menu_opening)
        # Filled when the first model has loaded: listing the models imports the loaders,
        # and with them torch (over a second), which must not delay the window (issue #19).
        view = self.menuBar().addMenu(QCoreApplication.translate("MainWindow", "&View"))
        self._action(view, QCoreApplication.translate("MainWindow", "Larger text"), "Ctrl+=", lambda: self.set_font_size(self.point_size + 2))
        self._action(view, QCoreApplication.translate("MainWindow", "Smaller text"), "Ctrl+-", lambda: self.set_font_size(self.point_size - 2))
        self._action(view, QCoreApplication.translate("MainWindow", "Light / dark theme"), "Ctrl+Shift+T", self.toggle_theme)
        self._action(view, QCoreApplication.translate("MainWindow", "Colour map: viridis / cividis"), None,
                     lambda: self.set_colour_map("cividis" if self.theme.colour_map == "viridis" else "viridis"))
        self._action(view, QCoreApplication.translate("MainWindow", "Presentation mode"), "F11", self.toggle_presentation)
        self._build_language_menu(view.addMenu(QCoreApplication.translate("MainWindow", "Language")))
        self.lessons_menu = self.menuBar().addMenu(QCoreApplication.translate("MainWindow", "&Lessons"))
        self.lessons_menu.aboutToShow.connect(self._populate_lessons_menu)
        self._populate_lessons_menu()
        self._action(self.lessons_menu, QCoreApplication.translate("MainWindow", "Save this view as a scene"), "Ctrl+S", self.save_scene)
        go = self.menuBar().addMenu(QCoreApplication.translate("MainWindow", "&Go"))
        self._action(go, QCoreApplication.translate("MainWindow", "Edit text"), "Ctrl+L", lambda: self.text_box.setFocus())
        self._action(go, QCoreApplication.translate("MainWindow", "Heads grid (arrow keys move)"), "Ctrl+G", lambda: self.heads_grid.setFocus())
        self._action(go, QCoreApplication.translate("MainWindow", "Previous token"), "Alt+Left", lambda: self._step_selection(-1))
        self._action(go, QCoreApplication.translate("MainWindow", "Next token"), "Alt+Right", lambda: self._step_selection(+1))
        self._action(go, QCoreApplication.translate("MainWindow", "Last token"), "Alt+End", lambda: self.select_position(-1))
        # Fourteen tabs do not fit in the tab bar at 1280 px with large text: every tab is one
        # key away (Ctrl+1 … Ctrl+9 for the first nine) and listed in Go → Tabs and in the ☰
        # button at the tab bar's end.
        tabs_menu = go.addMenu(QCoreApplication.translate("MainWindow", "Tabs"))
        tabs_menu.aboutToShow.connect(lambda menu=tabs_menu: self._fill_tabs_menu(menu))
        for n in range(1, 10):
            self._action(None, QCoreApplication.translate("MainWindow", "Tab {n}").format(n=n), f"Ctrl+{n}",
                         lambda _checked=False, i=n - 1: self._go_to_tab(i))
        self._build_tabs_button()

    def _build_tabs_button(self) -> None:
        """The ☰ button at the end of the tab bar: every tab, the hidden ones too."""
        button = self.tabs.cornerWidget()
        if not isinstance(button, QToolButton):
            button = QToolButton(self.tabs)
            button.setText("☰")
            button.setAutoRaise(True)
            button.setPopupMode(QToolButton.InstantPopup)
            button.setMenu(QMenu(button))
            button.menu().aboutToShow.connect(lambda: self._fill_tabs_menu(button.menu()))
            self.tabs.setCornerWidget(button)
        button.setToolTip(QCoreApplication.translate("MainWindow", "All tabs (Ctrl+1 … Ctrl+9)"))
        button.setAccessibleName(QCoreApplication.translate("MainWindow", "All tabs"))

    def _fill_tabs_menu(self, menu) -> None:
        """The tabs as they are now (some are built after the first trace), the one shown checked."""
        menu.clear()
        for index in range(self.tabs.count()):
            # the key written after a tab, not set: a second action on Ctrl+1 would make it ambiguous
            key = QKeySequence(f"Ctrl+{index + 1}").toString(QKeySequence.NativeText) if index < 9 else ""
            action = menu.addAction(self.tabs.tabText(index).replace("&", "&&") + (f"\t{key}" if key else ""))
            action.setCheckable(True)
            action.setChecked(index == self.tabs.currentIndex())
            action.triggered.connect(lambda _checked=False, i=index: self._go_to_tab(i))

    def _go_to_tab(self, index: int) -> None:
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    def _build_language_menu(self, menu) -> None:
        """English / 中文, each named in its own language; the choice is kept in the settings."""
        group = QActionGroup(menu)
        for code, name in i18n.LANGUAGES.items():
            action = QAction(name, menu, checkable=True)
            action.setData(code)
            action.setChecked(code == self.language)
            action.triggered.connect(lambda _checked=False, code=code: self.set_language(code))
            group.addAction(action)
            menu.addAction(action)

    def set_language(self, language: str) -> None:
        """Switch the interface language now and remember it."""
        self.settings.setValue("language", i18n.normalise(language))
        installed = i18n.install_translator(QApplication.instance(), language)
        if installed != self.language:
            self.language = installed
            self.retranslate()

    def retranslate(self) -> None:
        """Every text the window and its panels show, again in :attr:`language`."""
        self.text_box.setPlaceholderText(QCoreApplication.translate("MainWindow", "Type a sentence…"))
        for index in range(self.tabs.count()):
            self.tabs.setTabText(index, self.tabs.widget(index).widget().tab_title())
        # The old menus and actions are deleted, not only removed: QMenuBar.clear() and
        # removeAction() keep them alive as children of the bar and the window, 49 actions and
        # 7 menus per switch (issue #31). Later, not now: a menu action may be running this.
        for action in self._menu_actions:
            self.removeAction(action)
            action.deleteLater()
        self._menu_actions.clear()
        for menu in self.menuBar().findChildren(QMenu, options=Qt.FindChildOption.FindDirectChildrenOnly):
            menu.deleteLater()
        self.menuBar().clear()
        self._build_menus()
        self._show_model_status()
        if self.trace is not None:
            self._show_trace_status(self.trace)
            self._show_timings()
        for panel in self.panels:
            panel.retranslate()
        if self.player.playing:
            self.caption.setText(self.player.lesson.scenes[self.player.index].caption(self.language))
            self._on_scene_changed(self.player.index)

    def _action(self, menu, text, shortcut, slot) -> QAction:
        action = QAction(text, self)
        self._menu_actions.append(action)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        self.addAction(action)
        return action
