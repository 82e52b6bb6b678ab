import { ed25519AgreementSuite } from "../node/helpers/ed25519-agreement.ts";

ed25519AgreementSuite("workerd, BoringSSL");
