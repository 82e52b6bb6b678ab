import journal from './meta/_journal.json';
import m0000 from './0000_loud_satana.sql';
import m0001 from './0001_payout_address_cooldown.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001
    }
  }
  