/**
 * Login: a TRON wallet signature (TronLink when the browser has it, else the message is signed
 * elsewhere and the signature pasted) or a magic link; ADMIN+ accounts then give a TOTP code.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiProblem, postJson, type Answer, type Api, type Body } from "../lib/api.ts";
import { navigate } from "../lib/router.ts";
import { auth, type Tokens } from "../lib/session.ts";
import { injectedWallet, signWithWallet, walletAddress } from "../lib/tron.ts";
import { ErrorBox, Progress } from "../components/feedback.tsx";

type Challenge = Answer<Api["auth"]["challenge"]["$post"]>;

const needsSecondFactor = (error: unknown) =>
  error instanceof ApiProblem && error.status === 401 && error.extensions.secondFactor === "required";

function finish(tokens: Tokens) {
  auth.signedIn(tokens);
  const next = new URLSearchParams(location.search).get("next");
  navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/", { replace: true });
}

export function LoginPage() {
  const [method, setMethod] = useState<"wallet" | "email">("wallet");
  const notice = useRef(auth.takeNotice());
  return (
    <main id="main" class="login" tabIndex={-1}>
      <h1>Sign in to Lucid</h1>
      {notice.current && (
        <p class="notice" role="status">
          {notice.current}
        </p>
      )}
      <div role="tablist" aria-label="Sign-in method" class="tabs">
        <button role="tab" type="button" aria-selected={method === "wallet"} onClick={() => setMethod("wallet")}>
          TRON wallet
        </button>
        <button role="tab" type="button" aria-selected={method === "email"} onClick={() => setMethod("email")}>
          Email link
        </button>
      </div>
      {method === "wallet" ? <WalletLogin /> : <MagicLinkRequest />}
    </main>
  );
}

function WalletLogin() {
  const wallet = injectedWallet();
  const [address, setAddress] = useState("");
  const [challenge, setChallenge] = useState<Challenge | null>(null);
  const [signature, setSignature] = useState("");
  const [totp, setTotp] = useState<string | null>(null);
  const [askTotp, setAskTotp] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (wallet) void walletAddress().then((a) => a && setAddress(a));
  }, []);

  async function getChallenge(): Promise<Challenge> {
    const next = await postJson<Challenge>(
      "/auth/challenge",
      { address: address.trim(), walletKind: wallet ? "tronlink" : "software" } satisfies Body<Api["auth"]["challenge"]["$post"]>,
      { anonymous: true },
    );
    setChallenge(next);
    setSignature("");
    return next;
  }

  async function submit(answered: Challenge, sig: string, code: string | null) {
    const body: Body<Api["auth"]["verify"]["$post"]> = {
      address: address.trim(),
      nonce: answered.nonce,
      signature: sig.trim(),
      walletKind: wallet ? "tronlink" : "software",
      ...(code ? { totpCode: code } : {}),
    };
    try {
      finish(await postJson<Tokens>("/auth/verify", body, { anonymous: true }));
    } catch (e) {
      setChallenge(null);
      if (needsSecondFactor(e)) {
        setTotp(null);
        setAskTotp(true);
        if (code) setError(e);
        return;
      }
      throw e;
    }
  }

  async function step(label: string, work: () => Promise<void>) {
    setBusy(label);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  }

  // TronLink: challenge, sign and submit in one go; the paste flow stops at the message.
  const start = (code: string | null) =>
    step(wallet ? "Waiting for the wallet's signature…" : "Getting the message to sign…", async () => {
      const next = await getChallenge();
      if (wallet) await submit(next, await signWithWallet(next.message), code);
    });

  if (askTotp && totp === null) {
    return (
      <TotpStep
        busy={busy}
        error={error}
        onSubmit={(code) => {
          setTotp(code);
          setAskTotp(false);
          void start(code);
        }}
      />
    );
  }

  return (
    <section aria-labelledby="wallet-heading">
      <h2 id="wallet-heading">{wallet ? "Sign with your TRON wallet" : "Sign a message with your TRON wallet"}</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void start(totp);
        }}
      >
        <label>
          TRON address
          <input
            name="address"
            required
            autoComplete="username"
            spellcheck={false}
            value={address}
            onInput={(e) => setAddress(e.currentTarget.value)}
            placeholder="T…"
          />
        </label>
        <button type="submit" disabled={!!busy || !address.trim()}>
          {wallet ? "Sign in with TronLink" : "Get the message to sign"}
        </button>
      </form>
      {challenge && !wallet && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void step("Checking the signature…", () => submit(challenge, signature, totp));
          }}
        >
          <p>
            Sign this exact message with <code>signMessageV2</code> (TIP-191) in your wallet, then paste the signature. It expires at{" "}
            {new Date(challenge.expiresAt).toLocaleTimeString()}.
          </p>
          <label>
            Message
            <textarea name="message" readOnly rows={7} value={challenge.message} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <label>
            Signature (hex)
            <input
              name="signature"
              required
              spellcheck={false}
              autoComplete="off"
              value={signature}
              onInput={(e) => setSignature(e.currentTarget.value)}
              placeholder="0x…"
            />
          </label>
          <button type="submit" disabled={!!busy || !signature.trim()}>
            Sign in
          </button>
        </form>
      )}
      {busy && <Progress label={busy} />}
      <ErrorBox error={error} />
    </section>
  );
}

function TotpStep({ busy, error, onSubmit }: { busy: string | null; error: unknown; onSubmit: (code: string) => void }) {
  const [code, setCode] = useState("");
  return (
    <section aria-labelledby="totp-heading">
      <h2 id="totp-heading">Two-factor code</h2>
      <p>This account needs the 6-digit code from your authenticator app. You will sign a fresh message after it.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit(code.trim());
        }}
      >
        <label>
          TOTP code
          <input
            name="totp"
            required
            inputMode="numeric"
            pattern="\d{6}"
            autoComplete="one-time-code"
            autoFocus
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={!!busy}>
          Continue
        </button>
      </form>
      <ErrorBox error={error} />
    </section>
  );
}

function MagicLinkRequest() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <section aria-labelledby="email-heading">
      <h2 id="email-heading">Get a login link by email</h2>
      {sent ? (
        <p role="status">If this address belongs to an account, a link is on its way. It works once, for 15 minutes.</p>
      ) : (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            try {
              await postJson("/auth/magic-link", { email: email.trim() } satisfies Body<Api["auth"]["magic-link"]["$post"]>, {
                anonymous: true,
              });
              setSent(true);
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          <label>
            Email
            <input name="email" type="email" required autoComplete="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={busy}>
            Send the link
          </button>
        </form>
      )}
      {busy && <Progress label="Sending…" />}
      <ErrorBox error={error} />
    </section>
  );
}

/** /login/magic#token=…: the link from the email. The token is spent by the first answer, so a TOTP code goes with it. */
export function MagicLinkLanding() {
  const token = useRef(new URLSearchParams(location.hash.slice(1)).get("token"));
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    // Keep the token out of the address bar and history.
    if (token.current) history.replaceState(null, "", "/login/magic");
  }, []);
  const linkToken = token.current;
  if (!linkToken) {
    return (
      <main id="main" class="login" tabIndex={-1}>
        <h1>Login link</h1>
        <p class="error" role="alert">
          This page needs the link from your email. <a href="/login">Back to sign in</a>
        </p>
      </main>
    );
  }
  return (
    <main id="main" class="login" tabIndex={-1}>
      <h1>Finish signing in</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const body = { token: linkToken, ...(code.trim() ? { totpCode: code.trim() } : {}) } satisfies Body<
              Api["auth"]["magic-link"]["verify"]["$post"]
            >;
            finish(await postJson<Tokens>("/auth/magic-link/verify", body, { anonymous: true }));
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>
          TOTP code (administrators)
          <input
            name="totp"
            inputMode="numeric"
            pattern="\d{6}"
            autoComplete="one-time-code"
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      {busy && <Progress label="Signing in…" />}
      <ErrorBox error={error} />
      {!!error && <a href="/login">Ask for a new link</a>}
    </main>
  );
}
