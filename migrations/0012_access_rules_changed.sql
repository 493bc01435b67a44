-- 0012: nodes keep the access rules in memory (AccessRuleCache) instead of asking for them at
-- every MAIL and RCPT, which was a round trip per message. Any change to the table is
-- announced on the channel the nodes already listen on, and they load the rules again; a node
-- that is not listening (its LISTEN connection is down) asks the database each time, as before.
CREATE FUNCTION petrel_access_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('petrel_changes', 'access');
    RETURN NULL;
END $$;

CREATE TRIGGER access_rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON access_rules
    FOR EACH STATEMENT EXECUTE FUNCTION petrel_access_rules_changed();
