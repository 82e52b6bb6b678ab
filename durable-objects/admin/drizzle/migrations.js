import journal from './meta/_journal.json';
import m0000 from './0000_redundant_supernaut.sql';
import m0001 from './0001_black_kat_farrell.sql';
import m0002 from './0002_store_checks.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002
    }
  }
  