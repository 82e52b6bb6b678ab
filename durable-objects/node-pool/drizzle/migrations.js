import journal from './meta/_journal.json';
import m0000 from './0000_loud_satana.sql';
import m0001 from './0001_payout_address_cooldown.sql';
import m0002 from './0002_observed_work_challenges.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002
    }
  }
  