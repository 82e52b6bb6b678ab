import journal from './meta/_journal.json';
import m0000 from './0000_lovely_felicia_hardy.sql';
import m0001 from './0001_familiar_morbius.sql';
import m0002 from './0002_payout_txid_unique.sql';
import m0003 from './0003_payout_automatic.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002,
m0003
    }
  }
  