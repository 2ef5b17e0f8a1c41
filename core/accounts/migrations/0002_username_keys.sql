-- Usernames are compared by a key (issue 13's leftovers; hygiene.ts, user-store.ts): NFKC, trimmed, inner runs of
-- spaces as one, each Cyrillic or Greek letter that looks like a Latin one (Unicode's confusables.txt, the letters of
-- those two scripts whose prototype is one Latin letter) as that Latin letter, then lower case. Two names with the
-- same key look alike: `ａｄｍｉｎ`, ` Admin ` and the all-Cyrillic `аdmіn`-style spellings of a Latin name all have
-- the key of `admin`. New names are checked against the keys of every stored name, so a look-alike of a name stored
-- before normalization (or imported from Meteor) collides with it too; logins find a user by its key when no name
-- equals the given one case-insensitively and exactly one user has that key (Meteor's case-insensitive lookup).
-- Stored names are not rewritten: Meteor never changes a username it stored, and apps publish and display them.
--
-- The function is IMMUTABLE so that it can be indexed. NFKC and the look-alike letters need a UTF8 database; on any
-- other encoding the key is the trimmed, lower-cased name.
DO $$
BEGIN
  IF current_setting('server_encoding') = 'UTF8' THEN
    CREATE OR REPLACE FUNCTION pgrt.username_key(name text) RETURNS text
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
      AS $k$
        SELECT lower(translate(
          regexp_replace(regexp_replace(normalize(name, NFKC), '^\s+|\s+$', '', 'g'), ' {2,}', ' ', 'g'),
          'асԁеһіјӏорԛѕԝхуүАВСЕНІЈКМОРԚЅТԜХҮӀαγινορΑΒΕΖΗΙΚΜΝΟΡΤΥΧ',
          'acdehijlopqswxyyABCEHIJKMOPQSTWXYlayivopABEZHIKMNOPTYX'))
      $k$;
  ELSE
    CREATE OR REPLACE FUNCTION pgrt.username_key(name text) RETURNS text
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
      AS $k$ SELECT lower(regexp_replace(regexp_replace(name, '^\s+|\s+$', '', 'g'), ' {2,}', ' ', 'g')) $k$;
  END IF;
END $$;
CREATE INDEX IF NOT EXISTS users_username_key ON pgrt.users (pgrt.username_key(username));
