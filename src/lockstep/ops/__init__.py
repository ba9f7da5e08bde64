"""Operations: health, readiness, metrics, logging, security headers."""
