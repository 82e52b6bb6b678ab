import journal from './meta/_journal.json';
import m0000 from './0000_hesitant_toro.sql';
import m0001 from './0001_cool_rumiko_fujikawa.sql';
import m0002 from './0002_integrity_hold_shares.sql';
import m0003 from './0003_interaction_policy.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002,
m0003
    }
  }
  