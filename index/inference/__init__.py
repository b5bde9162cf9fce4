"""Inference: the neural models and where they run. The bundled embedding model (texts -> vectors,
`embedding.py`), ONNX Runtime sessions and the model files' checks (`runtime.py`), making the ONNX
copy from the bundled weights (`export.py`), and the answer-sentence model that judges whether a
sentence answers a question (`answer_model.py`; its weights ship in index/weights/).

The lowest layer of the engine: it imports only index.errors, never another package."""
