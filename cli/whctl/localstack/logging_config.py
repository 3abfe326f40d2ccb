"""log4j2 configuration for the JVMs: one rolling log file per component in <state_dir>/logs."""
from __future__ import annotations

from pathlib import Path

# Loggers that drown the useful lines at INFO.
QUIET = {
    "kafka": ["kafka.request.logger", "kafka.log.LogCleaner", "state.change.logger", "kafka.authorizer.logger"],
    "connect": ["org.reflections", "org.apache.kafka.clients.consumer.ConsumerConfig",
                "org.apache.kafka.clients.producer.ProducerConfig", "org.apache.kafka.clients.admin.AdminClientConfig",
                "org.eclipse.jetty", "org.glassfish",
                "org.apache.kafka.connect.runtime.rest.RestServer"],  # one line per REST request
}


def write(path: Path, log_file: Path, component: str) -> Path:
    lines = [
        "status = warn",
        "appender.file.type = RollingFile",
        "appender.file.name = file",
        f"appender.file.fileName = {log_file}",
        f"appender.file.filePattern = {log_file}.%i",
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = [%d] %p %m (%c)%n",
        "appender.file.policies.type = Policies",
        "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
        "appender.file.policies.size.size = 50MB",
        "appender.file.strategy.type = DefaultRolloverStrategy",
        "appender.file.strategy.max = 3",
        "rootLogger.level = INFO",
        "rootLogger.appenderRef.file.ref = file",
    ]
    for i, name in enumerate(QUIET.get(component, [])):
        lines += [f"logger.q{i}.name = {name}", f"logger.q{i}.level = WARN"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def properties(values: dict[str, object]) -> str:
    """A Java .properties text (values here never hold characters that need escaping but ':' '=' '\\')."""
    def escape(value: object) -> str:
        return str(value).replace("\\", "\\\\")
    return "".join(f"{key}={escape(value)}\n" for key, value in values.items())
