"""Every mutant of bridge's trust checks, and the tests that must kill it.

A mutant is named by the import path of the function it breaks and the way it breaks it
(``bridge.connectors.dg1.signing.webhook_valid:always_true``). ``tests`` are the node ids
run against it (only those, so the run stays fast); the mutant is killed when one of them
fails. A check that moves or changes fails ``test_catalogue.py`` (in ``make test``) until
its mutant here is updated: it can never silently drop out of the run.

Add a mutant for every new trust check: where the check is, how it could be broken, and
the fastest tests that would notice.
"""
from __future__ import annotations

from .engine import Mutant

B24_HOOKS = "tests/connectors/bitrix24/test_hooks.py"
B24_IFRAME = "tests/connectors/bitrix24/test_iframe_e2e.py"
B24_INSTALL = "tests/connectors/bitrix24/test_install_e2e.py"
DG1_HOOKS = "tests/connectors/dg1/test_hooks.py"
DG1_WEB = "tests/connectors/dg1/test_web.py"
XERO_HOOKS = "tests/connectors/xero/test_hooks.py"
XERO_WEB = "tests/connectors/xero/test_web.py"
BEXIO_LIVE = "tests/connectors/bexio/test_live_connect.py"
FUZZ = "tests/security/test_fuzz_inbound.py"
FRAMING = "tests/security/test_framing.py"
ISOLATION = "tests/security/test_tenant_isolation.py"
OPERATOR = "tests/dashboard/test_operator.py"
TAB = "tests/web/test_invoice_tab.py"
SYNC_LOG = "tests/web/test_sync_log.py"
SETTINGS = "tests/web/test_settings_page.py"
SAFE_URL = "tests/web/test_safe_url.py"
B24_UNINSTALL = "tests/connectors/bitrix24/test_uninstall.py"
SWEEP = f"{ISOLATION}::test_no_installation_reads_or_changes_anothers_data_through_any_url"
MUTATION_TESTS = "tests/security/mutations/test_trust_checks.py"

MUTANTS: tuple[Mutant, ...] = (
    # ---- Bitrix24: application_token and member_id -------------------------------------------
    Mutant("bridge.connectors.bitrix24.store.verify", "token_not_compared",
           (f"{B24_HOOKS}::test_a_forged_application_token_gets_401_and_leaves_no_trace",
            f"{FUZZ}::test_forged_bitrix24_iframe_launches_are_refused",
            f"{B24_IFRAME}::test_a_forged_application_token_gets_401"),
           "any application_token opens a known portal's callbacks and pages",
           edits=(("if not hmac.compare_digest(installation.app_token_hash, hash_token(application_token)):",
                   "if False:"),)),
    Mutant("bridge.connectors.bitrix24.store.verify", "any_installation",
           (f"{B24_HOOKS}::test_a_forged_application_token_gets_401_and_leaves_no_trace",
            f"{FUZZ}::test_forged_bitrix24_iframe_launches_are_refused",
            f"{MUTATION_TESTS}::test_a_portals_token_opens_no_other_portal"),
           "the installation is found by its token alone, whatever member_id the request names",
           edits=(("installation = find(member_id)",
                   "installation = db.session.scalar(select(Installation).where(Installation.platform == PLATFORM, "
                   "Installation.app_token_hash == hash_token(application_token)))"),)),
    Mutant("bridge.connectors.bitrix24.store.owner", "token_ignored",
           (f"{B24_HOOKS}::test_a_forged_application_token_gets_401_and_leaves_no_trace",
            f"{FUZZ}::test_bitrix24_events_without_the_application_token_store_nothing"),
           "the callback hot path stores an event for a member_id without its application_token",
           edits=((', "app_token_hash": hash_token(application_token)}', "}"),)),
    Mutant("bridge.connectors.bitrix24.store.owner", "member_ignored",
           (f"{MUTATION_TESTS}::test_a_portals_token_opens_no_other_portal",),
           "the callback hot path stores an event under whichever portal has that token",
           edits=(('"account_id": member_id, ', ""),)),
    Mutant("bridge.connectors.bitrix24.iframe.confirm_user", "auth_id_of_any_installation",
           (f"{MUTATION_TESTS}::test_a_portal_user_confirmed_for_one_portal_is_not_one_of_another",),
           "a user confirmed by one portal is taken as a user of another portal",
           edits=(("known is not None and known.installation_id == installation.id and ", "known is not None and "),)),
    Mutant("bridge.connectors.bitrix24.iframe.authenticate", "portal_not_asked",
           (f"{B24_IFRAME}::test_an_access_token_the_portal_does_not_know_gets_401",),
           "the AUTH_ID of an iframe launch is not confirmed with the portal",
           edits=(('user = confirm_user(installation, params["AUTH_ID"], params.get("AUTH_EXPIRES"))',
                   'user = Bitrix24Viewer(user_id=1, is_admin=True, name="")'),)),
    Mutant("bridge.connectors.bitrix24.web.install", "member_id_not_compared",
           (f"{MUTATION_TESTS}::test_the_install_page_keeps_no_tokens_issued_for_another_portal",),
           "the install page keeps tokens the OAuth server issued for another portal",
           edits=(('if tokens.get("member_id") != params["member_id"] or not tokens.get("client_endpoint"):',
                   'if not tokens.get("client_endpoint"):'),)),
    Mutant("bridge.connectors.bitrix24.web.install", "domain_not_compared",
           (f"{B24_INSTALL}::test_install_page_refuses_a_domain_that_is_not_the_portals_address",),
           "the install page takes the portal's name from the form, not from its OAuth server",
           edits=(("""if f"/{params['DOMAIN'].lower()}/" not in tokens["client_endpoint"].lower():""", "if False:"),)),
    Mutant("bridge.connectors.bitrix24.store.check_server_endpoint", "any_oauth_server",
           (f"{B24_INSTALL}::test_install_page_refuses_an_unknown_oauth_server",),
           "an install launch may send our client secret to any server it names",
           returns="token_url_for(server_endpoint or 'https://oauth.bitrix.info/rest/')"),
    Mutant("bridge.connectors.bitrix24.hooks._install_from_event", "member_id_not_compared",
           (f"{B24_HOOKS}::test_install_event_before_the_install_page_is_verified_with_the_oauth_server",),
           "an ONAPPINSTALL event installs with tokens of another portal",
           edits=(('if tokens.get("member_id") != member_id:', "if False:"),)),

    # ---- Bitrix24 app pages: the signed form tokens (CSRF and session) ------------------------
    Mutant("bridge.connectors.bitrix24.iframe.check_form_token", "unsigned",
           (f"{SYNC_LOG}::test_a_tampered_token_sees_nothing",),
           "a form token is read without checking its signature",
           edits=(("data = _serializer().loads(token, max_age=FORM_TOKEN_MAX_AGE)",
                   "data = _serializer().loads_unsafe(token)[1]\n        assert isinstance(data, dict)"),)),
    Mutant("bridge.connectors.bitrix24.iframe.check_form_token", "never_expires",
           (f"{MUTATION_TESTS}::test_an_old_form_token_is_refused",),
           "a form token stays valid for ever",
           edits=(("max_age=FORM_TOKEN_MAX_AGE", "max_age=None"),)),
    Mutant("bridge.connectors.bitrix24.iframe.check_form_token", "any_object",
           (f"{TAB}::test_a_token_for_one_invoice_does_not_sync_another",),
           "a form token issued for one object (invoice, page) acts on any other",
           edits=((' or data.get("o", "") != obj', ""),)),
    Mutant("bridge.web.app_settings._viewer", "admin_not_checked",
           (f"{SETTINGS}::test_a_non_admin_cannot_save",),
           "a portal user who is no administrator changes the settings",
           edits=(("if admin and not viewer.is_admin:", "if False:"),)),
    Mutant("bridge.connectors.bitrix24.web.repair", "admin_not_checked",
           (f"{MUTATION_TESTS}::test_only_an_administrator_repairs_the_setup",),
           "a portal user who is no administrator re-runs the installer",
           edits=(("if not viewer.is_admin:", "if False:"),)),

    # ---- Tenant scoping of routes --------------------------------------------------------------
    Mutant("bridge.web.sync_log.retry", "any_installations_record",
           (f"{MUTATION_TESTS}::test_a_retry_names_only_the_installations_own_records",),
           "a retry acts on another installation's sync record",
           edits=((" or record.installation_id != viewer.installation.id", ""),)),
    Mutant("bridge.web.sync_log.Filters.query", "any_installation",
           (f"{SYNC_LOG}::test_pages_of_fifty_newest_first", SWEEP),
           "the sync log lists every installation's records",
           edits=(("select(SyncRecord).where(SyncRecord.installation_id == installation_id)", "select(SyncRecord)"),)),
    Mutant("bridge.dashboard.queries._filtered", "any_connection",
           (SWEEP,),
           "the dashboard shows every ledger connection's transactions",
           edits=(("query = query.where(t.connection_id == connection_id)", "query = query"),)),
    Mutant("bridge.connectors.xero.connection.active_connection", "any_installation",
           (SWEEP,),
           "an installation's pages use another installation's Xero connection",
           edits=(("LedgerConnection.installation_id == installation_id", "True"),)),
    Mutant("bridge.connectors.dg1.web._links", "any_installation",
           (f"{MUTATION_TESTS}::test_a_dg1_shop_sees_no_ledger_link_of_another_shop_with_the_same_order_number",),
           "the DG1 pages show another shop's ledger links",
           edits=(("Link.installation_id == installation_id, ", ""),)),
    Mutant("bridge.connectors.dg1.web._product_key", "any_tenant",
           (f"{MUTATION_TESTS}::test_a_dg1_session_syncs_no_product_of_another_shop",),
           "a DG1 session queues work for another shop's product",
           returns="value or abort(400)"),
    Mutant("bridge.connectors.dg1.web._session", "any_tenant",
           (f"{DG1_WEB}::test_a_session_of_one_tenant_never_opens_another",),
           "a DG1 session opens an installation that is no longer the tenant it was signed for",
           edits=((' or installation.account_id != current.tenant', ""),)),
    Mutant("bridge.connectors.dg1.hooks.receive", "body_for_any_tenant",
           (f"{MUTATION_TESTS}::test_a_dg1_event_naming_another_tenant_is_refused",),
           "a DG1 event whose signed body names another tenant is stored",
           edits=(('if event.tenant_id not in (None, tenant_id):', "if False:"),)),
    Mutant("bridge.connectors.dg1.hooks.dedup_key", "by_header_delivery_id",
           (f"{DG1_HOOKS}::test_a_captured_delivery_resent_with_new_delivery_ids_is_one_event",),
           "a captured delivery resent with new X-DG1-Delivery-Id headers becomes as many events",
           returns="f\"dg1:{tenant_id}:{request.headers.get('X-DG1-Delivery-Id', '')}\""),
    Mutant("bridge.connectors.dg1.hooks.trusted_event", "topic_from_header",
           (f"{DG1_HOOKS}::test_a_topic_header_that_is_not_the_signed_topic_is_refused_with_a_reason",),
           "the unsigned X-DG1-Topic header decides the topic (order.updated relabelled order.placed)",
           edits=(("if header_topic is not None and header_topic != topic:", "if False:"),
                  ("return Event(event_id, topic,", "return Event(event_id, header_topic or topic,"))),
    Mutant("bridge.connectors.dg1.hooks.trusted_event", "topic_mismatch_not_refused",
           (f"{DG1_HOOKS}::test_a_topic_header_that_is_not_the_signed_topic_is_refused_with_a_reason",),
           "a topic header that contradicts the signed body is not refused with its reason",
           edits=(("if header_topic is not None and header_topic != topic:", "if False:"),)),

    # ---- Xero webhooks: signature and intent to receive --------------------------------------
    Mutant("bridge.connectors.xero.hooks.signature_valid", "always_true",
           (f"{XERO_HOOKS}::test_intent_to_receive_gets_200_and_401_with_empty_bodies_and_no_cookies",
            f"{FUZZ}::test_xero_webhooks_with_a_wrong_signature_get_401_and_store_nothing"),
           "every Xero webhook is taken as signed", returns="True"),
    Mutant("bridge.connectors.xero.hooks.signature_valid", "always_false",
           (f"{XERO_HOOKS}::test_intent_to_receive_gets_200_and_401_with_empty_bodies_and_no_cookies",),
           "Intent to Receive fails (a signed check gets 401): Xero disables the webhook", returns="False"),
    Mutant("bridge.connectors.xero.hooks.signature_valid", "no_key_no_check",
           (f"{MUTATION_TESTS}::test_without_a_webhook_key_no_xero_webhook_is_accepted",),
           "without a configured key, a webhook signed with an empty key is accepted",
           edits=(("if not signature or not key:", "if not signature:"), ("key.encode()", "(key or '').encode()"))),
    Mutant("bridge.connectors.xero.web.receive_webhook", "answers_200_when_unsigned",
           (f"{XERO_HOOKS}::test_intent_to_receive_gets_200_and_401_with_empty_bodies_and_no_cookies",),
           "a wrongly signed Intent-to-Receive check gets 200: Xero disables the webhook",
           edits=(("return Response(status=401)", "return Response(status=200)"),)),

    # ---- Xero and Bexio OAuth: state, signed links ------------------------------------------
    Mutant("bridge.connectors.xero.web.callback", "nonce_not_compared",
           (f"{XERO_WEB}::test_a_callback_whose_state_was_not_started_in_this_browser_is_refused",),
           "an authorisation started in another browser is finished in this one",
           edits=(("if not expected_nonce or not secrets.compare_digest(str(expected_nonce), str(state.get(\"n\", \"\"))):",
                   "if False:"),)),
    Mutant("bridge.connectors.xero.web.callback", "state_unsigned",
           (f"{XERO_WEB}::test_a_callback_whose_state_was_not_started_in_this_browser_is_refused",
            f"{MUTATION_TESTS}::test_a_xero_state_for_another_installation_is_refused"),
           "the OAuth state is read without its signature: a browser's own nonce with another installation id",
           edits=(('state = _serializer(STATE_SALT).loads(request.args.get("state", ""), max_age=STATE_MAX_AGE)',
                   'state = _serializer(STATE_SALT).loads_unsafe(request.args.get("state", ""))[1]\n'
                   '        assert isinstance(state, dict)'),)),
    Mutant("bridge.connectors.xero.web._installation_from_request", "signed_id_not_compared",
           (f"{XERO_WEB}::test_pages_need_a_signed_link_for_that_installation",),
           "a signed Xero link of one installation opens another's",
           edits=(("if signed != installation_id:", "if False:"),)),
    Mutant("bridge.connectors.xero.web._installation_from_request", "unsigned",
           (f"{XERO_WEB}::test_pages_need_a_signed_link_for_that_installation",),
           "a Xero settings link is taken without its signature",
           edits=(('signed = _serializer(ACCESS_SALT).loads(values.get("sig", ""), max_age=ACCESS_MAX_AGE)',
                   "signed = installation_id"),)),
    Mutant("bridge.connectors.xero.web.choose", "any_installations_choice",
           (f"{MUTATION_TESTS}::test_organisations_authorised_for_one_installation_are_not_attached_to_another",),
           "organisations authorised for one installation are attached to another",
           edits=(('if not pending or pending.get("installation") != installation.id:', "if not pending:"),)),
    Mutant("bridge.connectors.bexio.web.callback", "nonce_not_compared",
           (f"{BEXIO_LIVE}::test_an_answer_from_bexio_for_another_browser_is_refused",
            f"{MUTATION_TESTS}::test_a_bexio_state_from_another_connect_is_refused"),
           "a Bexio answer for another connect attempt is taken",
           edits=(('pending.get("nonce") != state.get("n") or ', ""),)),
    Mutant("bridge.connectors.bexio.web.callback", "installation_not_compared",
           (), "a Bexio connection started for one installation is stored for the one the state names",
           edits=((' or pending.get("installation") != state.get("i")', ""),),
           equivalent="the state is signed and carries the nonce it was minted with, next to its installation; "
                      "the session keeps that nonce with the same installation: a state whose nonce matches "
                      "always names the pending installation"),
    Mutant("bridge.connectors.bexio.web._signed", "installation_from_the_request",
           (f"{BEXIO_LIVE}::test_a_connect_link_without_a_valid_signature_is_refused",
            f"{MUTATION_TESTS}::test_a_bexio_link_of_one_installation_opens_no_other"),
           "a signed Bexio link of one installation acts on the installation the request names",
           edits=(("if str(signed_id) != str(raw):", "if False:"),
                  ("installation = db.session.get(Installation, int(signed_id))",
                   "installation = db.session.get(Installation, int(raw))"))),
    Mutant("bridge.connectors.bexio.auth.BexioOAuth.identity", "nonce_not_compared",
           ("tests/connectors/bexio/test_auth.py::test_the_identity_comes_from_the_company_profile_claims_and_checks_the_nonce",),
           "an ID token minted for another sign-in is accepted",
           edits=(('if nonce is not None and claims.get("nonce") != nonce:', "if False:"),)),

    # ---- DG1 webhooks: signature and timestamp window ----------------------------------------
    Mutant("bridge.connectors.dg1.signing.webhook_valid", "always_true",
           (f"{DG1_HOOKS}::test_a_forged_signature_is_refused",
            f"{FUZZ}::test_dg1_webhooks_with_a_wrong_signature_are_refused_by_the_signature"),
           "every DG1 webhook is taken as signed", returns="True"),
    Mutant("bridge.connectors.dg1.signing.webhook_valid_any", "always_true",
           (f"{FUZZ}::test_dg1_webhooks_with_a_wrong_signature_are_refused_by_the_signature",),
           "every DG1 webhook is taken as signed (the rotation-aware check)", returns="True"),
    Mutant("bridge.connectors.dg1.signing.webhook_valid", "body_not_signed",
           (f"{DG1_HOOKS}::test_the_signature_helper_matches_the_documented_example",
            f"{FUZZ}::test_dg1_webhooks_with_a_wrong_signature_are_refused_by_the_signature"),
           "the signature is checked over the timestamp only: any body passes with a captured one",
           edits=(("webhook_signature(secret, timestamp, raw_body)", "webhook_signature(secret, timestamp, b'')"),)),
    Mutant("bridge.connectors.dg1.signing.fresh", "always_true",
           (f"{DG1_HOOKS}::test_a_replay_older_than_five_minutes_is_refused_even_with_a_valid_signature",
            f"{DG1_WEB}::test_an_expired_or_replayed_launch_is_refused"),
           "a captured DG1 webhook or launch is accepted at any time later", returns="True"),
    Mutant("bridge.connectors.dg1.signing.fresh", "past_only",
           (f"{DG1_HOOKS}::test_a_replay_older_than_five_minutes_is_refused_even_with_a_valid_signature",),
           "a timestamp far in the future is fresh (a request signed ahead stays valid for long)",
           edits=(("abs(now - seconds) <= window", "now - seconds <= window"),)),
    Mutant("bridge.connectors.dg1.hooks.receive", "timestamp_not_checked",
           (f"{DG1_HOOKS}::test_a_replay_older_than_five_minutes_is_refused_even_with_a_valid_signature",),
           "the webhook receiver skips the 5-minute window",
           edits=(("if not signing.fresh(timestamp, signing.now_seconds()):", "if False:"),)),
    Mutant("bridge.connectors.dg1.tenants.TenantSecrets.webhook_secrets", "previous_secret_for_ever",
           (f"{DG1_HOOKS}::test_during_a_rotation_window_the_previous_webhook_secret_is_still_accepted",),
           "a replaced webhook secret is accepted after its rotation window",
           edits=((" and now <= self.previous_valid_until", ""),)),

    # ---- DG1 launch signature and session CSRF ---------------------------------------------
    Mutant("bridge.connectors.dg1.signing.launch_valid", "always_true",
           (f"{DG1_WEB}::test_a_forged_launch_is_refused", f"{FUZZ}::test_forged_dg1_launches_are_refused"),
           "every DG1 admin launch is taken as signed", returns="True"),
    Mutant("bridge.connectors.dg1.web.launch", "timestamp_not_checked",
           (f"{DG1_WEB}::test_an_expired_or_replayed_launch_is_refused",),
           "a captured launch URL opens the admin pages at any time later",
           edits=(('if not signing.fresh(args["ts"], signing.now_seconds()):', "if False:"),)),
    Mutant("bridge.connectors.dg1.session.load", "unsigned",
           (f"{DG1_WEB}::test_pages_need_a_valid_session",),
           "a DG1 session token is read without its signature",
           edits=(("data = _serializer().loads(token, max_age=SESSION_MAX_AGE)",
                   "data = _serializer().loads_unsafe(token)[1]\n        assert isinstance(data, dict)"),)),
    Mutant("bridge.connectors.dg1.session.csrf_valid", "always_true",
           (f"{DG1_WEB}::test_sync_order_needs_the_forms_csrf_token_and_queues_the_invoice_flow",),
           "DG1 admin forms are accepted without their CSRF token", returns="True"),

    # ---- Operator console CSRF ------------------------------------------------------------
    Mutant("bridge.web.operator.signed_in", "csrf_not_compared",
           (f"{OPERATOR}::test_sign_out_needs_the_csrf_token",),
           "the console's forms are accepted without their CSRF token",
           nested="wrapper",
           edits=(('if request.method == "POST" and not hmac.compare_digest(request.form.get("csrf", ""), '
                   'g.operator_csrf):', "if False:"),)),
    Mutant("bridge.web.operator.login", "any_origin",
           (f"{OPERATOR}::test_a_login_posted_from_another_site_is_refused",),
           "a sign-in form posted from another site signs the browser in",
           edits=(('if origin and origin.rstrip("/") != request.host_url.rstrip("/"):', "if False:"),)),

    # ---- Bitrix24 uninstall: confirmed with the portal, never on the application token -----
    Mutant("bridge.connectors.bitrix24.uninstall.confirm_uninstall", "confirm_always",
           (f"{B24_UNINSTALL}::test_a_forged_uninstall_with_the_app_token_and_clean_deletes_nothing_and_sync_keeps_working",),
           "an uninstall event is taken as confirmed without asking Bitrix24", returns="Outcome.CONFIRMED"),
    Mutant("bridge.connectors.bitrix24.uninstall.confirm_uninstall", "failed_refresh_confirms",
           (f"{B24_UNINSTALL}::test_an_inconclusive_check_changes_nothing_and_is_retried_with_backoff",),
           "any failed token refresh (a timeout, a spent refresh token) confirms the uninstall",
           edits=(("if exc.code not in NOT_INSTALLED:", "if False:"),)),
    Mutant("bridge.connectors.bitrix24.uninstall.confirm_uninstall", "any_rest_error_confirms",
           (f"{B24_UNINSTALL}::test_a_portal_that_answers_with_a_server_error_is_inconclusive",),
           "any error of the portal's REST (a 5xx) confirms the uninstall",
           edits=(('if exc.code in UNAUTHORISED or (exc.status == 401 and exc.code != "expired_token"):',
                   "if True:"),)),
    Mutant("bridge.connectors.bitrix24.uninstall._still_accepted", "never",
           (f"{B24_UNINSTALL}::test_invalid_client_while_the_portal_accepts_the_token_of_before_is_bridges_own_credentials",),
           "invalid_client caused by bridge's own wrong client secret is taken for an uninstall",
           returns="False"),
    Mutant("bridge.connectors.bitrix24.uninstall.run_check", "no_check_window",
           (f"{B24_UNINSTALL}::test_a_run_before_the_window_ends_waits_without_asking",
            f"{B24_UNINSTALL}::test_a_flood_of_forged_uninstalls_costs_one_check_per_window"),
           "a flood of forged uninstall events refreshes the portal's tokens once per event",
           edits=(("if last is not None and t < last + check_window():", "if False:"),)),
    Mutant("bridge.connectors.bitrix24.hooks.receive", "uninstall_at_once",
           (f"{B24_UNINSTALL}::test_a_forged_uninstall_with_the_app_token_and_clean_deletes_nothing_and_sync_keeps_working",),
           "the uninstall event uninstalls at once, on the application token alone",
           edits=(("request_uninstall(installation, clean=clean, flow=uninstall.FLOW)",
                   "uninstall.uninstall(installation, clean=clean)"),)),

    # ---- Links from outside: http(s) or our own path only ----------------------------------
    Mutant("bridge.web.safe_url.safe_href", "allow_any_scheme",
           (f"{SAFE_URL}::test_anything_else_is_not_a_link",
            "tests/connectors/dg1/test_outside_links.py::test_a_javascript_invoice_url_set_through_dg1s_api_is_text_not_a_link"),
           "a javascript: (or data:, vbscript:) address from outside becomes a clickable link",
           returns="value.strip() if isinstance(value, str) else ''"),
    Mutant("bridge.web.safe_url.safe_href", "protocol_relative",
           (f"{SAFE_URL}::test_anything_else_is_not_a_link",),
           "//evil.example (another site, read as our own path) becomes a link",
           edits=(('return "" if url.startswith("//") else url', "return url"),)),
    Mutant("bridge.web.safe_url.safe_href", "control_characters",
           (f"{SAFE_URL}::test_whatever_comes_in_the_link_is_http_https_or_our_own_path",),
           "java<TAB>script: slips past the scheme check (browsers drop the tab)",
           edits=(('if not url or "\\\\" in url or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7f for ch in url):',
                   "if not url:"),)),
    Mutant("bridge.web.safe_url.keepable", "any_scheme",
           (f"{SAFE_URL}::test_a_url_we_keep_is_absolute_http_and_whole",),
           "bridge stores an outside address of any scheme (or cut to fit) to render later",
           returns="value"),

    # ---- frame-ancestors ----------------------------------------------------------------------
    Mutant("bridge.web.framing.deny_framing_by_default", "no_policy",
           (f"{FRAMING}::test_pages_without_a_policy_of_their_own_may_be_framed_by_no_one",),
           "pages without a policy of their own may be framed by any site", returns="response"),
    Mutant("bridge.connectors.bitrix24.iframe.framed", "any_ancestor",
           (f"{B24_IFRAME}::test_invoice_tab_shows_state_and_frames_only_for_its_portal",
            f"{FRAMING}::test_pages_a_portal_or_shop_frames_keep_their_own_policy"),
           "the Bitrix24 pages may be framed by any site",
           edits=(("""ancestors = f"'self' {source}" if source else "'none'\"""", 'ancestors = "*"'),)),
    Mutant("bridge.connectors.dg1.web.frame_headers", "any_ancestor",
           (f"{DG1_WEB}::test_the_documented_launch_opens_the_settings_page_framed_only_by_dg1_admin",),
           "the DG1 admin pages may be framed by any site",
           edits=(("""\"frame-ancestors \" + (origin or "'none'")""", '"frame-ancestors *"'),)),
    Mutant("bridge.web.operator._secure", "no_frame_policy",
           (), "the operator console sets no frame-ancestors of its own",
           edits=(("""response.headers["Content-Security-Policy"] = "frame-ancestors 'none'\"""", "pass"),),
           equivalent="the default policy (bridge/web/framing.py) then gives the console the very same "
                      "header, frame-ancestors 'none' and X-Frame-Options DENY: no answer changes"),
)


def by_name(name: str) -> Mutant:
    for mutant in MUTANTS:
        if mutant.name == name:
            return mutant
    raise KeyError(f"no mutant named {name}")
