"""The module `dramatiq` loads in each worker process (`atlas worker` runs it): the Redis
broker and the run actor, built from this process's own settings (DATABASE_URL, REDIS_URL,
DRAMATIQ_QUEUE, JOB_TIME_LIMIT_S, AUTO_ENDORSE_PRESETS)."""

import dramatiq

from app.core.config import get_settings
from app.jobs.dramatiq_runner import declare_actor, make_broker

settings = get_settings()
broker = make_broker(settings)
dramatiq.set_broker(broker)
run_experiment = declare_actor(broker, settings)
