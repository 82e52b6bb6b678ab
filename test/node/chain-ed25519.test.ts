import { ed25519AgreementSuite } from "./helpers/ed25519-agreement.ts";

ed25519AgreementSuite("Node, OpenSSL");
