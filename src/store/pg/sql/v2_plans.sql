-- tix on PostgreSQL, schema version 2: the hold's statements are planned once per connection.
--
-- PostgreSQL's default plan_cache_mode (auto) keeps planning a statement afresh at every call
-- while its generic plan's estimate looks dearer than the custom plans', and for tix_hold's
-- conditional write (the CTE on seat_id = ANY (p_seats)) it always does: the planner took a
-- quarter of the writer's database CPU under a stream of holds (perf on the writer's backend,
-- make bench-pg). Every statement of tix_hold looks rows up by key, or by a partial index on
-- constants, so its generic plan is the custom one. Only tix_hold, the function of the hot
-- path: the others keep the default.
ALTER FUNCTION tix_hold(text, text, bigint, integer, text, text, text, text[], text)
    SET plan_cache_mode = force_generic_plan;
