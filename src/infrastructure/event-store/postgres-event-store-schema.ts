/**
 * DDL of the PostgreSQL event store. Idempotent (IF NOT EXISTS / OR REPLACE) and unqualified, so it lands in the
 * client's search_path (tests give every suite its own schema).
 *
 * Why a plpgsql function for append: one statement in autocommit is one round trip, which is what lets the HTTP
 * layer reach thousands of appends per second; the function does everything an append needs inside that statement.
 */

/** SQLSTATEs raised by es_append; class "EV" is not used by PostgreSQL. */
export const WRONG_EXPECTED_REVISION_SQLSTATE = 'EV001';
export const EVENT_ID_CONFLICT_SQLSTATE = 'EV002';

/** Channel NOTIFY'd after appends (coalesced, outside the append's transaction), so other processes wake up. */
export const EVENTS_CHANNEL = 'es_events';

export const eventStoreSchemaSql = `
CREATE TABLE IF NOT EXISTS es_streams (
  stream_id text PRIMARY KEY,
  -- revision of the stream's last event (0-based); the row lock on it serialises writers of one stream
  revision bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS es_events (
  global_position bigserial PRIMARY KEY,
  -- a sequence value becomes visible only at commit; readers fence on the writer's transaction id instead
  transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  event_id uuid NOT NULL UNIQUE,
  stream_id text NOT NULL,
  stream_revision bigint NOT NULL,
  category text NOT NULL,
  type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream_id, stream_revision)
);

CREATE INDEX IF NOT EXISTS es_events_transaction_position_idx ON es_events (transaction_id, global_position);
-- Filtered reads walk the global-order index a window at a time (see readAfter): a per-category index served no read
-- any more and cost every append an index entry.
DROP INDEX IF EXISTS es_events_category_transaction_position_idx;

-- Is this append a repeat of one already stored? Returns the original result (revision, commit, prepare of its last
-- event) when ALL ids exist in this stream, consecutive and in the same order; no row when none exists; raises
-- ${EVENT_ID_CONFLICT_SQLSTATE} when only some exist, or elsewhere.
CREATE OR REPLACE FUNCTION es_find_append(p_stream_id text, p_ids uuid[],
  OUT o_revision bigint, OUT o_commit text, OUT o_prepare bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_found int;
  v_matching int;
  v_offsets int;
  v_existing text;
BEGIN
  SELECT count(*),
         count(*) FILTER (WHERE e.stream_id = p_stream_id),
         count(DISTINCT e.stream_revision - array_position(p_ids, e.event_id)),
         string_agg(e.event_id::text, ',')
    INTO v_found, v_matching, v_offsets, v_existing
    FROM es_events e
   WHERE e.event_id = ANY (p_ids);
  IF v_found = 0 THEN
    RETURN;
  END IF;
  IF v_found = cardinality(p_ids) AND v_matching = v_found AND v_offsets = 1 THEN
    SELECT e.stream_revision, e.transaction_id::text, e.global_position
      INTO o_revision, o_commit, o_prepare
      FROM es_events e
     WHERE e.event_id = p_ids[cardinality(p_ids)];
    RETURN;
  END IF;
  RAISE EXCEPTION 'event ids already used elsewhere' USING ERRCODE = '${EVENT_ID_CONFLICT_SQLSTATE}', DETAIL = v_existing,
    HINT = p_stream_id;
END
$$;

-- Appends p_events (a JSON array of {id, type, data, metadata}) to p_stream_id if the stream matches the expectation:
-- p_expected_kind is 'any', 'no_stream', 'stream_exists' or 'exact' (then p_expected_revision holds the revision).
-- Raises ${WRONG_EXPECTED_REVISION_SQLSTATE} with the actual revision (or 'no_stream') as DETAIL on mismatch.
CREATE OR REPLACE FUNCTION es_append(p_stream_id text, p_expected_kind text, p_expected_revision bigint, p_events jsonb,
  OUT o_revision bigint, OUT o_commit text, OUT o_prepare bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_count int := jsonb_array_length(p_events);
  v_ids uuid[];
  v_last bigint;
  v_actual bigint;
  v_repeat record;
BEGIN
  IF v_count = 0 THEN
    RAISE EXCEPTION 'an append needs at least one event' USING ERRCODE = '22023';
  END IF;
  SELECT array_agg((x.ev ->> 'id')::uuid ORDER BY x.ord) INTO v_ids
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(ev, ord);

  -- A retry of an append that already succeeded returns its result and writes nothing, whatever the expectation.
  SELECT * INTO v_repeat FROM es_find_append(p_stream_id, v_ids);
  IF v_repeat.o_revision IS NOT NULL THEN
    SELECT v_repeat.o_revision, v_repeat.o_commit, v_repeat.o_prepare INTO o_revision, o_commit, o_prepare;
    RETURN;
  END IF;

  -- Check the expectation and move the stream's revision in one statement: the row lock (or the unique index for a
  -- new stream) makes a concurrent writer of the same stream wait, then re-check against the committed revision.
  IF p_expected_kind = 'any' THEN
    INSERT INTO es_streams AS s (stream_id, revision) VALUES (p_stream_id, v_count - 1)
      ON CONFLICT (stream_id) DO UPDATE SET revision = s.revision + v_count
      RETURNING s.revision INTO v_last;
  ELSIF p_expected_kind = 'no_stream' THEN
    INSERT INTO es_streams (stream_id, revision) VALUES (p_stream_id, v_count - 1)
      ON CONFLICT (stream_id) DO NOTHING
      RETURNING revision INTO v_last;
  ELSIF p_expected_kind = 'stream_exists' THEN
    UPDATE es_streams SET revision = revision + v_count WHERE stream_id = p_stream_id
      RETURNING revision INTO v_last;
  ELSIF p_expected_kind = 'exact' THEN
    UPDATE es_streams SET revision = revision + v_count
     WHERE stream_id = p_stream_id AND revision = p_expected_revision
      RETURNING revision INTO v_last;
  ELSE
    RAISE EXCEPTION 'unknown expected revision kind %', p_expected_kind USING ERRCODE = '22023';
  END IF;

  IF v_last IS NULL THEN
    -- The same append may have committed concurrently (we waited on its lock): then it is a retry, not a conflict.
    SELECT * INTO v_repeat FROM es_find_append(p_stream_id, v_ids);
    IF v_repeat.o_revision IS NOT NULL THEN
      SELECT v_repeat.o_revision, v_repeat.o_commit, v_repeat.o_prepare INTO o_revision, o_commit, o_prepare;
      RETURN;
    END IF;
    SELECT s.revision INTO v_actual FROM es_streams s WHERE s.stream_id = p_stream_id;
    RAISE EXCEPTION 'wrong expected revision' USING ERRCODE = '${WRONG_EXPECTED_REVISION_SQLSTATE}',
      DETAIL = coalesce(v_actual::text, 'no_stream'), HINT = p_stream_id;
  END IF;

  WITH inserted AS (
    INSERT INTO es_events (event_id, stream_id, stream_revision, category, type, data, metadata)
    SELECT (x.ev ->> 'id')::uuid, p_stream_id, v_last - v_count + x.ord, split_part(p_stream_id, '-', 1),
           x.ev ->> 'type', coalesce(x.ev -> 'data', 'null'::jsonb), coalesce(x.ev -> 'metadata', '{}'::jsonb)
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(ev, ord)
     ORDER BY x.ord
    RETURNING global_position
  )
  SELECT max(global_position) INTO o_prepare FROM inserted;

  o_revision := v_last;
  o_commit := pg_current_xact_id()::text;
  -- No pg_notify here: a transaction that notifies takes a cluster-wide lock from its commit until the end of the
  -- commit's WAL flush, which serialised appends (4,800/s fell to 1,300/s at 32 writers). The store sends one
  -- coalesced NOTIFY after appends instead.
END
$$;

-- Several appends in one statement, so in one transaction: p_appends is a JSON array of
-- {stream_id, expected_kind, expected_revision, events}; one row per append, in order. The errors of es_append name
-- the failing stream in their HINT.
--
-- Fast path, set-based, for the usual batch (a campaign creating its notifications, workers recording results): the
-- streams are distinct, each append expects 'no_stream' or an exact revision, and none of the event ids exists yet.
-- Three statements write the whole batch, inside one subtransaction: if any stream is not as expected or an id is
-- taken, it is rolled back and the batch goes through es_append one append at a time, which tells a repeat from a
-- conflict and raises the precise error.
CREATE OR REPLACE FUNCTION es_append_many(p_appends jsonb)
RETURNS TABLE (o_index int, o_revision bigint, o_commit text, o_prepare bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_append record;
  v_result record;
  v_count int := jsonb_array_length(p_appends);
  v_moved int;
BEGIN
  IF v_count > 0
     AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_appends) a(a)
                      WHERE a.a ->> 'expected_kind' NOT IN ('no_stream', 'exact') OR jsonb_array_length(a.a -> 'events') = 0)
     AND (SELECT count(DISTINCT a.a ->> 'stream_id') FROM jsonb_array_elements(p_appends) a(a)) = v_count THEN
    BEGIN
      WITH planned AS (
        SELECT a.a ->> 'stream_id' AS stream_id, a.a ->> 'expected_kind' AS kind,
               (a.a ->> 'expected_revision')::bigint AS expected, jsonb_array_length(a.a -> 'events') AS n
          FROM jsonb_array_elements(p_appends) a(a)
      ), created AS (
        INSERT INTO es_streams (stream_id, revision)
        SELECT p.stream_id, p.n - 1 FROM planned p WHERE p.kind = 'no_stream'
        ON CONFLICT (stream_id) DO NOTHING
        RETURNING 1
      ), moved AS (
        -- The row lock makes a concurrent writer of the same stream wait, then the revision is checked again.
        UPDATE es_streams s SET revision = s.revision + p.n
          FROM planned p
         WHERE p.kind = 'exact' AND s.stream_id = p.stream_id AND s.revision = p.expected
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM created) + (SELECT count(*) FROM moved) INTO v_moved;
      IF v_moved < v_count THEN
        RAISE EXCEPTION 'not the expected streams' USING ERRCODE = 'EV099';
      END IF;
      RETURN QUERY
      WITH inserted AS (
        INSERT INTO es_events (event_id, stream_id, stream_revision, category, type, data, metadata)
        SELECT (ev.ev ->> 'id')::uuid, a.a ->> 'stream_id',
               coalesce((a.a ->> 'expected_revision')::bigint, -1) + ev.ord, split_part(a.a ->> 'stream_id', '-', 1),
               ev.ev ->> 'type', coalesce(ev.ev -> 'data', 'null'::jsonb), coalesce(ev.ev -> 'metadata', '{}'::jsonb)
          FROM jsonb_array_elements(p_appends) WITH ORDINALITY AS a(a, ord),
               jsonb_array_elements(a.a -> 'events') WITH ORDINALITY AS ev(ev, ord)
         ORDER BY a.ord, ev.ord
        RETURNING stream_id, stream_revision, global_position
      )
      SELECT (a.ord - 1)::int, max(i.stream_revision), pg_current_xact_id()::text, max(i.global_position)
        FROM inserted i JOIN jsonb_array_elements(p_appends) WITH ORDINALITY AS a(a, ord) ON i.stream_id = a.a ->> 'stream_id'
       GROUP BY a.ord
       ORDER BY a.ord;
      RETURN;
    EXCEPTION WHEN SQLSTATE 'EV099' OR unique_violation THEN
      -- Rolled back to the start of the block: let es_append sort it out, append by append.
      NULL;
    END;
  END IF;
  FOR v_append IN SELECT x.a, x.ord FROM jsonb_array_elements(p_appends) WITH ORDINALITY AS x(a, ord) ORDER BY x.ord LOOP
    SELECT * INTO v_result FROM es_append(v_append.a ->> 'stream_id', v_append.a ->> 'expected_kind',
      (v_append.a ->> 'expected_revision')::bigint, v_append.a -> 'events');
    o_index := v_append.ord - 1;
    o_revision := v_result.o_revision;
    o_commit := v_result.o_commit;
    o_prepare := v_result.o_prepare;
    RETURN NEXT;
  END LOOP;
END
$$;
`;
