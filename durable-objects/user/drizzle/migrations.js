import journal from './meta/_journal.json';
import m0000 from './0000_white_silver_centurion.sql';

  export default {
    journal,
    migrations: {
      m0000
    }
  }
  