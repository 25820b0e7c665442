x = 1
from pipeline.worker.app import create_app
