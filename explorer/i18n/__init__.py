"""The interface's languages: English (the source strings) and Simplified Chinese.

Every string the app shows goes through Qt's translation system (``self.tr("…")``,
``QCoreApplication.translate("Context", "…")``, ``QT_TRANSLATE_NOOP`` for tables). The
Chinese is in ``attention_explorer_zh_CN.ts`` beside this file, compiled to the ``.qm``
the app loads. After adding or changing a string::

    python -m explorer.i18n update     # pyside6-lupdate over explorer/, then pyside6-lrelease

then translate the new ``unfinished`` entries in the ``.ts`` (by hand or in pyside6-linguist)
and run ``python -m explorer.i18n release`` to compile the ``.qm`` again. A test fails while
an entry is unfinished or the ``.qm`` is out of date.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

HERE = Path(__file__).resolve().parent
#: language code → its name, written in that language (what View → Language lists)
LANGUAGES = {"en": "English", "zh_CN": "中文"}
DEFAULT = "en"
CATALOGUE = "attention_explorer"

_installed: list[QTranslator] = []  # kept alive here: Qt does not own an installed translator


def ts_path(language: str = "zh_CN") -> Path:
    return HERE / f"{CATALOGUE}_{language}.ts"


def qm_path(language: str = "zh_CN") -> Path:
    return HERE / f"{CATALOGUE}_{language}.qm"


def normalise(language: str | None) -> str:
    """One of :data:`LANGUAGES` for a code or locale name ("zh", "zh_TW", "en_GB", "")."""
    language = (language or "").replace("-", "_")
    if language in LANGUAGES:
        return language
    if language.lower().startswith("zh"):
        return "zh_CN"  # the only Chinese we have: Simplified reads better than English here
    return DEFAULT


def system_language() -> str:
    """The interface language the system locale asks for."""
    return normalise(QLocale.system().name())


def install_translator(app: QCoreApplication | None, language: str) -> str:
    """Make ``language`` the interface language: remove the translators installed before and
    install ours plus Qt's own (``qtbase_zh_CN``: the standard dialogs' buttons) when there is
    one. Returns the language installed ("en" when its catalogue is missing). Installing or
    removing a translator sends a LanguageChange event; the window retranslates itself."""
    language = normalise(language)
    app = app or QCoreApplication.instance()
    if app is None:
        return DEFAULT
    while _installed:
        app.removeTranslator(_installed.pop())
    if language == DEFAULT:
        return DEFAULT
    ours = QTranslator(app)
    if not ours.load(str(qm_path(language))):
        return DEFAULT
    app.installTranslator(ours)
    _installed.append(ours)
    qt = QTranslator(app)
    if qt.load(f"qtbase_{language}", QLibraryInfo.path(QLibraryInfo.TranslationsPath)):
        app.installTranslator(qt)
        _installed.append(qt)
    return language


def installed_language() -> str:
    """The language whose catalogue is installed now."""
    return "zh_CN" if _installed else DEFAULT
