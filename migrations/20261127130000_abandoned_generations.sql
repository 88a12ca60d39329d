-- A generation that a failed or dead rebuild left building is marked abandoned (and its schema
-- dropped) rather than deleted, so that generation numbers, and the schema names made of them,
-- are never used twice: a stale rebuild still running somewhere cannot write into a newer
-- rebuild's schema, and its switch finds its generation abandoned and switches nothing.
ALTER TABLE projection_generations DROP CONSTRAINT projection_generations_status_check;
ALTER TABLE projection_generations ADD CONSTRAINT projection_generations_status_check
    CHECK (status IN ('building', 'live', 'retired', 'abandoned'));
