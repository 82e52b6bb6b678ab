import journal from './meta/_journal.json';
import m0000 from './0000_redundant_supernaut.sql';
import m0001 from './0001_black_kat_farrell.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001
    }
  }
  